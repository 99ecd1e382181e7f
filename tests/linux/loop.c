/* Linux test program: never ends (zerg must kill it at its deadline). */
int main(void)
{
    for (volatile unsigned long i = 0;; i++)
        ;
}
