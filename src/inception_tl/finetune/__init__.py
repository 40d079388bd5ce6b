"""Fine-tuning: the backbone's stages in forward order, and (next) the schedule that freezes and releases them."""
