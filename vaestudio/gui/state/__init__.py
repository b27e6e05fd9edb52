"""The window's state, free of Qt: what is shown, changed only through methods (and assignments) that check
their input, announced through psygnal signals that panels subscribe to: studio.py (the runs, the active
one and its forwarded events, the live run), run_history.py, latent_view.py, explorer.py (the pictures of
the moment, one event per part), quality.py (IWAE estimates), own_images.py (preparing your images),
tasks.py (the one background-task life-cycle: status, progress, partial results, cancel)."""
