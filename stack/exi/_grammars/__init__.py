"""Generated EXI grammar modules (see stack.exi.generate). Do not edit."""
