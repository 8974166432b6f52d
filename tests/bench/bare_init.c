/* The baseline guest: a static /init that powers the machine off at once. */
#include <sys/reboot.h>
#include <unistd.h>

int main(void)
{
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
