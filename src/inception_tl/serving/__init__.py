"""serve.py's server: LitServe's batching loop over the model (`api.py`), a gate in front of it that turns every
malformed upload into a 4xx before it can reach a batch (`gate.py`, `uploads.py`), and the page (`page/`)."""
