"""Back to full resolution: guided upsampling of the network's output and the blend into the photo."""
