/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The driver-core interfaces that differ between the kernels the mdev
 * core builds for, each behind one name.  compat/Kbuild.compat finds out
 * which ones the headers have (HP_HAVE_*); nothing else here asks.
 */
#ifndef MDEV_COMPAT_H
#define MDEV_COMPAT_H

#include <linux/device.h>

/* 6.11 made the driver argument of a bus's match() const. */
#ifdef HP_HAVE_BUS_MATCH_CONST
#define MDEV_MATCH_CONST const
#else
#define MDEV_MATCH_CONST
#endif

/*
 * The type of the mdev bus.  6.1's driver core keeps its private data in
 * it (->p, see below), so there it cannot be const; later kernels take
 * every struct bus_type const.
 */
#ifdef HP_HAVE_BUS_TYPE_P
#define MDEV_BUS_TYPE struct bus_type
#else
#define MDEV_BUS_TYPE const struct bus_type
#endif

/*
 * Has the driver core let go of @bus's memory after bus_unregister()?
 * 6.1 keeps its private data at @bus->p, and the kobject release that
 * frees it ends by clearing @bus->p: a write to our module's memory,
 * maybe long after bus_unregister() (CONFIG_DEBUG_KOBJECT_RELEASE).
 * Later kernels (6.12) keep nothing of theirs in struct bus_type.
 */
static inline bool mdev_bus_released(const struct bus_type *bus)
{
#ifdef HP_HAVE_BUS_TYPE_P
	return !READ_ONCE(bus->p);
#else
	return true;
#endif
}

#endif /* MDEV_COMPAT_H */
