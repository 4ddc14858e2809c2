"""Conversations: speaker embeddings of speech pieces, clustering them into voices, turns, and the
diarization error rate. Builds on `audio`, `speech` and `features`.
"""
