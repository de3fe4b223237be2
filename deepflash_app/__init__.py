"""Front ends over the DeepFlash core: the command line and its batch jobs."""
