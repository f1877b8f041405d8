#include <glib.h>
#include <gio/gio.h>
#include <libqmi-glib.h>
