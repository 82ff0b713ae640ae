 * The driver-core interfaces whose form depends on the kernel the mdev
 * core is built with, each behind one name.
 */
