// SPDX-License-Identifier: GPL-2.0
/*
 * hp_gate - make the kernel report trouble on demand
 *
 * The VM test runner fails a run when the guest's kernel log shows a
 * WARNING, a lockdep report or a hung task.  This module produces each of
 * them on request so that the runner's own tests can show the gate really
 * closes:
 *
 *   echo warn      > /sys/kernel/debug/hp_gate/trigger
 *   echo lockdep   > /sys/kernel/debug/hp_gate/trigger
 *   echo hang 70   > /sys/kernel/debug/hp_gate/trigger   (D state, seconds)
 *   echo hang 0    > /sys/kernel/debug/hp_gate/trigger   (D state, forever)
 *   echo freeze    > /sys/kernel/debug/hp_gate/trigger   (every CPU spins)
 *   echo triple    > /sys/kernel/debug/hp_gate/trigger   (triple fault: the
 *                                                          machine resets)
 *   echo bug       > /sys/kernel/debug/hp_gate/trigger   (oops the writer:
 *                                                          NULL dereference)
 *
 * Never load it outside a test VM.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/stop_machine.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <asm/desc.h>

static struct dentry *hp_gate_dir;

/* Always NULL: writing through it oopses the writer. */
static int *hp_gate_null;

/* Two locks taken in both orders by one thread: a lockdep report, no deadlock. */
static DEFINE_MUTEX(hp_gate_lock_a);
static DEFINE_MUTEX(hp_gate_lock_b);

static void hp_gate_lockdep(void)
{
	mutex_lock(&hp_gate_lock_a);
	mutex_lock(&hp_gate_lock_b);
	mutex_unlock(&hp_gate_lock_b);
	mutex_unlock(&hp_gate_lock_a);

	mutex_lock(&hp_gate_lock_b);
	mutex_lock(&hp_gate_lock_a);
	mutex_unlock(&hp_gate_lock_a);
	mutex_unlock(&hp_gate_lock_b);
}

static void hp_gate_hang(unsigned int seconds)
{
	pr_info("hp_gate: sleeping uninterruptibly for %u s (0: forever)\n",
		seconds);
	if (!seconds) {
		for (;;)
			schedule_timeout_uninterruptible(MAX_SCHEDULE_TIMEOUT);
	}
	schedule_timeout_uninterruptible(seconds * HZ);
}

/* Runs on every CPU with interrupts off: the whole guest stops for good. */
static int hp_gate_spin(void *unused)
{
	for (;;)
		mdelay(1000);
	return 0;
}

/*
 * An empty IDT and a breakpoint: the #BP cannot be delivered, nor the #GP
 * nor the double fault that follow, so the CPU shuts down and the machine
 * resets without a word in the log.
 */
static void hp_gate_triple_fault(void)
{
	struct desc_ptr empty = { .size = 0, .address = 0 };

	local_irq_disable();
	native_load_idt(&empty);
	asm volatile("int3");
}

static ssize_t hp_gate_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	char buf[32];
	unsigned int seconds;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	strim(buf);

	if (!strcmp(buf, "warn"))
		WARN(1, "hp_gate: warning requested\n");
	else if (!strcmp(buf, "lockdep"))
		hp_gate_lockdep();
	else if (!strcmp(buf, "bug"))
		*READ_ONCE(hp_gate_null) = 1;
	else if (!strcmp(buf, "freeze"))
		stop_machine(hp_gate_spin, NULL, cpu_online_mask);
	else if (!strcmp(buf, "triple"))
		hp_gate_triple_fault();
	else if (sscanf(buf, "hang %u", &seconds) == 1)
		hp_gate_hang(seconds);
	else
		return -EINVAL;
	return count;
}

static const struct file_operations hp_gate_fops = {
	.owner = THIS_MODULE,
	.write = hp_gate_write,
	.llseek = noop_llseek,
};

static int __init hp_gate_init(void)
{
	hp_gate_dir = debugfs_create_dir("hp_gate", NULL);
	debugfs_create_file("trigger", 0200, hp_gate_dir, NULL, &hp_gate_fops);
	return 0;
}

static void __exit hp_gate_exit(void)
{
	debugfs_remove_recursive(hp_gate_dir);
}

module_init(hp_gate_init);
module_exit(hp_gate_exit);
MODULE_DESCRIPTION("Trigger kernel warnings, lockdep reports and hangs for runner tests");
MODULE_LICENSE("GPL");
