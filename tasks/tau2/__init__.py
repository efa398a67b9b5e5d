"""Tau2-Bench (airline, retail, telecom) on top of inspect_evals' tau2, with pass^k and strict error handling."""
