"""posestore."""
