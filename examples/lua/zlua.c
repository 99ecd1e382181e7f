/* zlua: a static Lua 5.4 interpreter for zerg, linked from Debian's own
 * liblua5.4.a: `zlua SCRIPT [ARGS...]` runs SCRIPT with the standard
 * libraries, ARGS in the global table `arg` (as the stock `lua` does). Built
 * static because the Linux personality runs static programs only (so far). */
#include <stdio.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: zlua SCRIPT [ARGS...]\n");
        return 2;
    }
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "zlua: out of memory\n");
        return 1;
    }
    luaL_openlibs(L);
    lua_createtable(L, argc, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - 1); /* arg[0] = the script */
    }
    lua_setglobal(L, "arg");
    int rc = luaL_dofile(L, argv[1]);
    if (rc != LUA_OK) {
        fprintf(stderr, "zlua: %s\n", lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_close(L);
    return 0;
}
