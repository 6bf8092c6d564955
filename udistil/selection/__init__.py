"""Selection: the filter registry and the rule that turns score tables into a training subset."""
