"""Results: the result matrix and other tables, intervals and comparisons, the paper's claims, plots, the filter
analysis, efficiency, model cards and the run's closing summary."""
