"""e-KTP card pick-up: 1:1 verification against the chip through PC/SC and a SAM."""
