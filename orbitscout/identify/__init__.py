"""What each change is: features, the model, the joint layout of the hardware."""
