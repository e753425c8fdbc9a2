"""Developer and operator tools for zlb-health: the CLI, the Zenlayer API emulator, local runs.

Nothing here ships to Lambda (the function's CodeUri is src/ alone).
"""
