"""casework: the case file and its referral paths (Welfare, Casa, AMAT), to an outcome."""
