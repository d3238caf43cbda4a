/*
 * replay.c
 *		main() for builds without libFuzzer: run a fuzz target over files and
 *		directories (a corpus), for valgrind and for plain reproduction.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long nfiles = 0;

/* run the target on one file */
static void
ReplayFile(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	uint8_t    *data;
	long		size;

	if (f == NULL)
	{
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc(size > 0 ? size : 1);
	if (size > 0 && fread(data, 1, size, f) != (size_t) size)
	{
		perror(path);
		exit(2);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	nfiles++;
}

/* run the target on a file or on every file of a directory */
static void
ReplayPath(const char *path)
{
	struct stat st;
	DIR		   *dir;
	struct dirent *de;

	if (stat(path, &st) != 0)
	{
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode))
	{
		ReplayFile(path);
		return;
	}
	dir = opendir(path);
	while ((de = readdir(dir)) != NULL)
	{
		char		child[4096];

		if (de->d_name[0] == '.')
			continue;
		snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
		ReplayPath(child);
	}
	closedir(dir);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		ReplayPath(argv[i]);
	printf("replayed %ld inputs\n", nfiles);
	return 0;
}
