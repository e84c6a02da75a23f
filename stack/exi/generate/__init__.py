"""Grammar generator: XSD schema sets -> EXI grammars -> committed Python codec modules.

Run `python -m stack.exi.generate`; never imported by the codec at run time.
"""
