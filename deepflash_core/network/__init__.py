"""The networks: U-Net and grid net, the registry of model kinds, weights files, model cards and the shipped `pretrained/` models."""
