"""Configuration: the typed schemas of the config groups, `instantiate`, and the resolvers the YAMLs use."""
