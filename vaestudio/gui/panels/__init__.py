"""One panel per module. A panel is handed the Studio (and the Commands), subscribes to the state it
shows, and sends user actions back through the state; panels never call each other."""
