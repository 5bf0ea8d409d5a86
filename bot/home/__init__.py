"""The App Home tab (`app_home_opened` → `views.publish`)."""
