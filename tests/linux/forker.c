/* Linux test program: tries to fork and to exec; under zerg both fail with a
 * clear error and the program carries on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    printf("fork: %s\n", p < 0 ? strerror(errno) : "a child");
    char *argv[] = {"/bin/true", NULL};
    execv("/bin/true", argv);
    printf("execv: %s\n", strerror(errno));
    return 0;
}
