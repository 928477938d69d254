// Command swingtamper changes one value in a stopped LevelDB store (a swingsetd data dir or a
// swingchain home), offline. The testnet test uses it to plant a divergent sidecar state and
// check that the chain halts naming that node and height; it is a testing tool, never for a
// live chain.
//
//	swingtamper --db DIR get KEY
//	swingtamper --db DIR set KEY VALUE
//	swingtamper --db DIR add KEY N     (KEY's value is a decimal integer; adds N to it)
//
// It refuses a missing store (it never creates one), a missing key, and a value that is not a
// decimal integer for `add`; it prints the old and the new value.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

func usage() {
	fmt.Fprintln(os.Stderr, "usage: swingtamper --db DIR get KEY | set KEY VALUE | add KEY N")
	os.Exit(64)
}

func main() {
	fs := flag.NewFlagSet("swingtamper", flag.ContinueOnError)
	dir := fs.String("db", "", "LevelDB directory (the process using it must be stopped)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		usage()
	}
	args := fs.Args()
	if *dir == "" || len(args) < 2 {
		usage()
	}
	if err := run(*dir, args); err != nil {
		fmt.Fprintf(os.Stderr, "swingtamper: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string, args []string) error {
	op, key := args[0], []byte(args[1])
	switch {
	case op == "get" && len(args) == 2, op == "set" && len(args) == 3, op == "add" && len(args) == 3:
	default:
		usage()
	}
	db, err := leveldb.OpenFile(dir, &opt.Options{ErrorIfMissing: true})
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer db.Close()
	old, err := db.Get(key, nil)
	if errors.Is(err, leveldb.ErrNotFound) {
		return fmt.Errorf("key %q not in %s", key, dir)
	}
	if err != nil {
		return fmt.Errorf("get %q: %w", key, err)
	}
	if op == "get" {
		fmt.Printf("%s\n", old)
		return nil
	}
	var val []byte
	if op == "set" {
		val = []byte(args[2])
	} else {
		n, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			return fmt.Errorf("add: N %q is not an integer", args[2])
		}
		cur, err := strconv.ParseInt(string(old), 10, 64)
		if err != nil {
			return fmt.Errorf("add: the value of %q is %q, not a decimal integer", key, old)
		}
		val = []byte(strconv.FormatInt(cur+n, 10))
	}
	if err := db.Put(key, val, &opt.WriteOptions{Sync: true}); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", dir, err)
	}
	fmt.Printf("%s: %q -> %q\n", key, old, val)
	return nil
}
