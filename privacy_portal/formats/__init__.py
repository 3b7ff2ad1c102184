"""The portal's own date formats, where Django's locale formats do not suit its readers."""
