"""Finding faces and the subject: face boxes and landmarks, the coarse segmentation, the face mesh, MediaPipe loading, `Detection` and the detection child process."""
