"""How far simulated lensing images are from real ones (``benchmarks/sim_fidelity.py`` runs it)."""
