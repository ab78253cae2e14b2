"""labgw: the gateway that carries lab results from Danish general practice to the databanks."""

__version__ = "0.1.0"
