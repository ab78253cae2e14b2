"""Code tables (mappings/*.csv) and the mapping of a record's codes and units onto NPU and UCUM."""
