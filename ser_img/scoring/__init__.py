"""How the recognizer scores: concurrent calls batched into one model pass, timelines of
windows, conversations split into turns, and folders of files decoded on worker processes.
Builds on every room below and on `records` and `options`; only `recognizer` imports it.
"""
