"""The window's state, free of Qt: what is shown, changed only through methods that check their input,
announced through psygnal signals that panels subscribe to (studio.py, run_history.py, latent_view.py,
explorer.py)."""
