package stacks

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/schema"

	"github.com/crowsnest-hq/crowsnest/internal/body"
)

// A compose file names other files the loader reads while validating it:
// include's files and env files, extends' files, services' env_file and
// label_file. Read from anywhere, they would let an admin credential read
// any file crowsnest may read, and a loader error quoting them would show
// it to every reader of the /stacks socket and the events. So, unless the
// server allows host paths, they must lie inside the stack's own
// directory; and whatever the setting, such a file that does not parse is
// refused with its name only, never its lines. Paths used at deploy time
// (bind mounts, build contexts, configs, secrets) are not read here and
// stay the admin's choice.

// hostPathsHint tells how to allow a path outside the directory.
const hostPathsHint = "start crowsnest with --stacks-allow-host-paths to allow it"

// referencedFile is one file a compose file makes the loader read.
type referencedFile struct {
	field   string // where it is named, as compose spells it
	path    string // absolute, interpolated
	compose bool   // read as a compose file (include, extends), else as an env file
}

// checkReferences finds the files the compose file in dir names, and
// refuses those outside dir (unless hostPaths), the stack's own .env named
// as a compose file, and any that does not parse. It loads the file with
// include and extends left alone, so only compose.yaml and .env are read
// before the paths are known.
func checkReferences(ctx context.Context, dir, name string, opts *cli.ProjectOptions, hostPaths bool) error {
	// Not opts.LoadModel: it leaves the .env out of interpolation, so a
	// path taken from it would go unseen.
	details, err := opts.ReadConfigFiles(ctx, dir, opts)
	if err != nil {
		return err
	}
	details.Environment = opts.Environment
	model, err := loader.LoadModelWithContext(ctx, *details, skipReferences, func(o *loader.Options) {
		o.SetProjectName(name, true)
	})
	if err != nil {
		return err
	}
	for _, f := range referencedFiles(dir, model) {
		if !hostPaths && !inside(dir, f.path) {
			return invalid("%s %s: outside the stack's directory; a compose file may read only files beside it (%s)", f.field, f.path, hostPathsHint)
		}
		if f.compose && f.path == filepath.Join(dir, envFile) {
			return invalid("%s %s: the stack's env file is not a compose file", f.field, f.path)
		}
		if err := checkReadable(f); err != nil {
			return err
		}
	}
	return nil
}

// skipReferences are the loader options of checkReferences' first pass.
// Validation stays on: a malformed model (a list of services, say) is
// refused in the loader's words before anything walks it.
func skipReferences(o *loader.Options) {
	o.SkipInclude = true
	o.SkipExtends = true
	o.SkipNormalization = true
	o.SkipConsistencyCheck = true
	o.ResolvePaths = true
}

// referencedFiles lists the files model (a loaded, interpolated compose
// model with its paths resolved) names.
func referencedFiles(dir string, model map[string]any) []referencedFile {
	var out []referencedFile
	add := func(field string, v any, compose bool) {
		for _, p := range stringsOf(v) {
			if p == "" || p == "/dev/null" {
				continue
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			out = append(out, referencedFile{field: field, path: filepath.Clean(p), compose: compose})
		}
	}
	includes, _ := model["include"].([]any)
	for _, inc := range includes {
		switch inc := inc.(type) {
		case string:
			add("include", inc, true)
		case map[string]any:
			add("include", inc["path"], true)
			add("include env_file", inc["env_file"], false)
			if pd, ok := inc["project_directory"].(string); ok && pd != "" {
				// Its .env is read when the include names no env_file.
				add("include project_directory", filepath.Join(pd, envFile), false)
			}
		}
	}
	services, _ := model["services"].(map[string]any)
	for name, s := range services {
		svc, _ := s.(map[string]any)
		if ext, ok := svc["extends"].(map[string]any); ok {
			add("services."+name+".extends.file", ext["file"], true)
		}
		envFiles, _ := svc["env_file"].([]any)
		for _, e := range envFiles {
			if m, ok := e.(map[string]any); ok {
				e = m["path"]
			}
			add("services."+name+".env_file", e, false)
		}
		add("services."+name+".label_file", svc["label_file"], false)
	}
	return out
}

// stringsOf reads a string or a list of strings; anything else is none
// (the loader refuses it with its own words).
func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// inside reports whether path is dir or lies below it.
func inside(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkReadable parses f as the loader will, so that a file that does not
// parse is refused by name before the loader can quote it. A missing file
// is left to the loader (an optional env_file may be missing).
func checkReadable(f referencedFile) error {
	fh, err := os.Open(f.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return invalid("%s %s: cannot be read", f.field, f.path)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, body.MaxSize+1))
	if err != nil || len(data) > body.MaxSize {
		return invalid("%s %s: cannot be read, or larger than %d bytes", f.field, f.path, body.MaxSize)
	}
	if f.compose {
		var doc any
		if err := body.Decode(body.YAML, data, &doc); err != nil {
			return invalid("%s %s: not a valid compose file (its contents are not shown)", f.field, f.path)
		}
		// The schema's errors name the keys they refuse, and in a host file
		// (a shadow file parses as a mapping) keys are contents too.
		m, ok := doc.(map[string]any)
		if !ok || schema.Validate(m) != nil {
			return invalid("%s %s: not a valid compose file (its contents are not shown)", f.field, f.path)
		}
		return nil
	}
	if _, err := dotenv.UnmarshalBytesWithLookup(data, anyVariable); err != nil {
		return invalid("%s %s: not an env file%s (its contents are not shown)", f.field, f.path, lineOf(err))
	}
	return nil
}

// checkDotEnv parses the stack's .env before the loader does: the dotenv
// parser's errors quote the offending line, which holds the stack's
// secrets.
func checkDotEnv(env string) error {
	if env == "" {
		return nil
	}
	if _, err := dotenv.UnmarshalBytesWithLookup([]byte(env), anyVariable); err != nil {
		return invalid("env file: not valid%s (its contents are not shown)", lineOf(err))
	}
	return nil
}

// anyVariable answers every variable an env file interpolates with "": the
// checks want only whether the file parses, and a variable reported unset
// would be logged, with its name taken from the file.
func anyVariable(string) (string, bool) { return "", true }

// dotenvLine finds the line number a dotenv error starts with.
var dotenvLine = regexp.MustCompile(`^line (\d+):`)

// lineOf is " at line N" when err names its line, else "".
func lineOf(err error) string {
	if m := dotenvLine.FindStringSubmatch(err.Error()); m != nil {
		return " at line " + m[1]
	}
	return ""
}

// yamlValue is a value a YAML decoding error quotes: !!str `text`.
var yamlValue = regexp.MustCompile("(!!\\w+) `[^`]*`")

// loadError is a refusal of the stack in dir as a client's mistake, in
// words fit for every reader of the /stacks socket: the values a YAML
// decoding error quotes are dropped, in case one came from a file the
// checks above did not see (one an included file includes, with host
// paths allowed), and paths are told relative to the stack's directory,
// whose place in the data directory (a staging directory, at that) is
// nobody's business.
func loadError(dir string, err error) error {
	msg := yamlValue.ReplaceAllString(err.Error(), "$1 value")
	msg = strings.ReplaceAll(msg, dir+string(filepath.Separator), "")
	msg = strings.ReplaceAll(msg, dir, ".")
	return invalid("%s", msg)
}
