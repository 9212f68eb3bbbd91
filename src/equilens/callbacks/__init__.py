"""Lightning callbacks of ``equilens train``: precise batch-norm statistics, the best-AUC checkpoint."""
