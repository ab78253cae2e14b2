"""MedCom OIOXML: rendering, hardened parsing and validation of XRPT01 and the XCTL receipts."""
