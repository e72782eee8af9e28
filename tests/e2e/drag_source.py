#!/usr/bin/python3
"""A real GTK drag source for the end-to-end tests: a small window at a known place offering the
paths given on the command line as text/uri-list, exactly as a file manager does."""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

uris = [GLib.filename_to_uri(p, None) for p in sys.argv[1:]]

window = Gtk.Window(title="Fathom test drag source")
window.set_decorated(False)
window.move(0, 0)
window.set_default_size(120, 120)
label = Gtk.EventBox()
label.add(Gtk.Label(label="drag me"))
label.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
label.drag_source_add_uri_targets()


def on_data(_widget, _ctx, data, _info, _time):
    data.set_uris(uris)


label.connect("drag-data-get", on_data)
window.add(label)
window.connect("destroy", Gtk.main_quit)
window.show_all()
print("ready", flush=True)
Gtk.main()
