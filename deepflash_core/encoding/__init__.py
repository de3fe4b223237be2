"""The method's encoding: the bilateral filter and the equations that turn a crop into the network's input and back."""
