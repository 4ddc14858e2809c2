"""Figures about answers: metrics (accuracy, UAR, F1, calibration), plots and explanations.
Imports only `labels` from the package.
"""
