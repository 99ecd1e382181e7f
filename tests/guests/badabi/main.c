/* Test guest: claims an ABI version the monitor does not speak; the monitor
 * must refuse it before it runs a single instruction. (Linked without the
 * runtime's note; see GUESTS_OWN_NOTE in the Makefile.) */
#include <zerg/zerg.h>

struct note {
    uint32_t namesz, descsz, type;
    char name[8];
    uint32_t version;
};

__attribute__((section(".note.zerg"), used, aligned(4))) static const struct note bad_note = {
    5, 4, ZG_NOTE_ABI, ZG_NOTE_NAME, 999};

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    zg_printf("RAN\n");
    return 0;
}
