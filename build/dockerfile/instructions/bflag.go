package instructions

import (
	"fmt"
	"strings"
)

// FlagType is the kind of value an instruction flag takes.
type FlagType int

const (
	boolType FlagType = iota
	stringType
	stringsType
)

// BFlags are the --flags of one instruction: the ones it accepts are declared with AddBool,
// AddString and AddStrings, then Parse reads Args.
type BFlags struct {
	Args  []string // the flags as written, "--name=value"
	flags map[string]*Flag
	used  map[string]*Flag
	order []string // used flag names, first use first
	Err   error    // a declaration error, returned by Parse
}

// Flag is one declared flag and, after Parse, its value.
type Flag struct {
	bf           *BFlags
	name         string
	flagType     FlagType
	Value        string   // a bool or string flag's value ("true"/"false" for bool)
	StringValues []string // a strings flag's values, one per use
}

// NewBFlags returns an empty flag set.
func NewBFlags() *BFlags {
	return &BFlags{flags: map[string]*Flag{}, used: map[string]*Flag{}}
}

// NewBFlagsWithArgs returns a flag set that will parse args.
func NewBFlagsWithArgs(args []string) *BFlags {
	bf := NewBFlags()
	bf.Args = args
	return bf
}

// AddBool declares a boolean flag with its default.
func (bf *BFlags) AddBool(name string, def bool) *Flag {
	f := bf.addFlag(name, boolType)
	if f != nil {
		f.Value = fmt.Sprint(def)
	}
	return f
}

// AddString declares a string flag with its default.
func (bf *BFlags) AddString(name string, def string) *Flag {
	f := bf.addFlag(name, stringType)
	if f != nil {
		f.Value = def
	}
	return f
}

// AddStrings declares a flag that may be given several times.
func (bf *BFlags) AddStrings(name string) *Flag {
	return bf.addFlag(name, stringsType)
}

func (bf *BFlags) addFlag(name string, t FlagType) *Flag {
	if _, ok := bf.flags[name]; ok {
		bf.Err = fmt.Errorf("Duplicate flag defined: %s", name)
		return nil
	}
	f := &Flag{bf: bf, name: name, flagType: t}
	bf.flags[name] = f
	return f
}

// IsUsed reports whether the flag was given.
func (fl *Flag) IsUsed() bool {
	_, ok := fl.bf.used[fl.name]
	return ok
}

// IsTrue reports whether a boolean flag is true; it panics on other flags.
func (fl *Flag) IsTrue() bool {
	if fl.flagType != boolType {
		panic(fmt.Sprintf("Trying to use IsTrue on a non-boolean: %s", fl.name))
	}
	return fl.Value == "true"
}

// Used returns the names of the flags given, in the order first given.
func (bf *BFlags) Used() []string {
	return append(make([]string, 0, len(bf.order)), bf.order...)
}

// Parse reads Args into the declared flags. Arguments after a "--" are not flags.
func (bf *BFlags) Parse() error {
	if bf.Err != nil {
		return fmt.Errorf("error setting up flags: %w", bf.Err)
	}
	for _, a := range bf.Args {
		if a == "--" {
			return nil
		}
		if !strings.HasPrefix(a, "--") {
			return fmt.Errorf("arg should start with -- : %s", a)
		}
		flagName, value, hasValue := strings.Cut(a, "=")
		name := flagName[2:]
		f, ok := bf.flags[name]
		if !ok {
			names := make([]string, 0, len(bf.flags))
			for n := range bf.flags {
				names = append(names, n)
			}
			return suggestError(fmt.Errorf("unknown flag: %s", flagName), name, names, true)
		}
		if _, dup := bf.used[name]; dup && f.flagType != stringsType {
			return fmt.Errorf("duplicate flag specified: %s", flagName)
		}
		if _, seen := bf.used[name]; !seen {
			bf.order = append(bf.order, name)
		}
		bf.used[name] = f
		switch f.flagType {
		case boolType:
			if hasValue && value == "" {
				return fmt.Errorf("missing a value on flag: %s", flagName)
			}
			switch strings.ToLower(value) {
			case "true", "":
				f.Value = "true"
			case "false":
				f.Value = "false"
			default:
				return fmt.Errorf("expecting boolean value for flag %s, not: %s", flagName, value)
			}
		case stringType, stringsType:
			if !hasValue {
				return fmt.Errorf("missing a value on flag: %s", flagName)
			}
			if f.flagType == stringType {
				f.Value = value
			} else {
				f.StringValues = append(f.StringValues, value)
			}
		}
	}
	return nil
}
