"""Quick Draw bitmaps: category names, local files, downloads, splits and input pipelines."""
