"""The classifier stage: everything about the MNIST CNN (data, network, training, evaluation)."""
