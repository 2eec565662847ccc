"""Stage I latent action models (paper §3.1, App. A.1): config, VQ-VAE model, Lightning module,
training (mani / loco / shared variants), RRG (Eq. 6, Table 9) and latent retrieval (Fig. 8)."""
