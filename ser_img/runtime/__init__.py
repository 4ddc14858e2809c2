"""How things run: LiteRT inference, worker processes and BLAS threads, muting native libraries'
output. The lowest layer: imports nothing else from the package.
"""
