"""The stack: training settings, speaker-grouped folds, and the fitted model that runs every member
and combines their probabilities (vote, temperature). Builds on `members`.
"""
