package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/berth-project/berth/image"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Docker's wording around login (docker/cli v29).
const (
	unencryptedWarning = "\nWARNING! Your credentials are stored unencrypted in '%s'.\n" +
		"Configure a credential helper to remove this warning. See\n" +
		"https://docs.docker.com/go/credential-store/\n\n"
	registerSuggest = "Log in with your Docker ID or email address to push and pull images from Docker Hub. " +
		"If you don't have a Docker ID, head over to https://hub.docker.com/ to create one."
	nonTTYLogin = "error: cannot perform an interactive login from a non-TTY device"
)

type loginOptions struct {
	user, password string
	passwordStdin  bool
}

func newLoginCommand(cli *CLI) *cobra.Command {
	var opts loginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Long:  "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
		Args:  requiresMaxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			f := c.Flags()
			// As docker/cli's verifyLoginFlags and verifyLoginOptions, in that order.
			if f.Changed("password-stdin") || opts.password == "-" {
				if f.Changed("password") && opts.password != "-" {
					return reportStatus(cli, 1, "conflicting options: cannot specify both --password and --password-stdin")
				}
				if !f.Changed("username") {
					return reportStatus(cli, 1, "the --password-stdin option requires --username to be set")
				}
				opts.passwordStdin, opts.password = true, ""
			}
			if f.Changed("username") && opts.user == "" {
				return reportStatus(cli, 1, "username is empty")
			}
			if f.Changed("password") && opts.password == "" && !opts.passwordStdin {
				return reportStatus(cli, 1, "password is empty")
			}
			if opts.password != "" {
				fmt.Fprintln(cli.Err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			if opts.passwordStdin {
				p, err := readSecret(cli.In)
				if err != nil {
					return reportStatus(cli, 1, "error reading password: "+err.Error())
				}
				if strings.TrimSpace(p) == "" {
					return reportStatus(cli, 1, "password is empty")
				}
				opts.password = p
			}
			return runLogin(cli, image.RegistryKey(server), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.user, "username", "u", "", "Username")
	f.StringVarP(&opts.password, "password", "p", "", `Password or Personal Access Token (PAT), or "-" to read from stdin`)
	f.BoolVar(&opts.passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func runLogin(cli *CLI, key string, opts loginOptions) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defaultUser := ""
	if opts.user == "" && opts.password == "" {
		// As docker/cli: first try what is stored already (what cannot be read is not there).
		stored, _ := image.StoredCredentials(key)
		defaultUser = stored.Username
		if stored.Username != "" && stored.Password != "" {
			fmt.Fprintf(cli.Err, "Authenticating with existing credentials... [Username: %s]\n", stored.Username)
			fmt.Fprint(cli.Err, "\n Info -> To login with a different account, run 'docker logout' followed by 'docker login'\n\n\n")
			err := image.VerifyLogin(ctx, key, stored)
			if err == nil {
				return saveLogin(cli, key, stored)
			}
			if errors.Is(err, image.ErrUnauthorized) {
				fmt.Fprintln(cli.Err, "Stored credentials invalid or expired")
			} else {
				fmt.Fprintln(cli.Err, "Login did not succeed, error: Error response from daemon:", err)
			}
		}
	}
	creds, err := promptCredentials(ctx, cli, key, opts, defaultUser)
	if err != nil {
		var se *StatusError
		if errors.As(err, &se) {
			return err
		}
		return reportStatus(cli, 1, err.Error())
	}
	if err := image.VerifyLogin(ctx, key, creds); err != nil {
		return imageError(cli, err)
	}
	return saveLogin(cli, key, creds)
}

// saveLogin stores creds for key and prints what docker login prints.
func saveLogin(cli *CLI, key string, creds image.Credentials) error {
	saved, err := image.SaveCredentials(key, creds)
	if err != nil {
		return reportStatus(cli, 1, err.Error())
	}
	if saved.Helper == "" && saved.Changed {
		fmt.Fprintf(cli.Err, unencryptedWarning, saved.File)
	}
	fmt.Fprintln(cli.Out, "Login Succeeded")
	return nil
}

// promptCredentials completes opts with what the user types at "Username: " and "Password: "
// (not echoed), as docker/cli's PromptUserForCredentials; stdin must then be a terminal.
func promptCredentials(ctx context.Context, cli *CLI, key string, opts loginOptions, defaultUser string) (image.Credentials, error) {
	user := strings.TrimSpace(opts.user)
	password := opts.password
	if user != "" && password != "" {
		return image.Credentials{Username: user, Password: password}, nil
	}
	in, ok := cli.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return image.Credentials{}, errors.New(nonTTYLogin)
	}
	if user == "" {
		if key == image.IndexServer {
			fmt.Fprintln(cli.Out, registerSuggest)
		}
		msg := "Username: "
		if defaultUser != "" {
			msg = fmt.Sprintf("Username (%s): ", defaultUser)
		}
		fmt.Fprint(cli.Out, msg)
		line, err := readLine(in)
		if err != nil {
			return image.Credentials{}, err
		}
		if user = strings.TrimSpace(line); user == "" {
			user = defaultUser
		}
		if user == "" {
			return image.Credentials{}, errors.New("error: username is required")
		}
	}
	if strings.TrimSpace(password) == "" {
		fmt.Fprint(cli.Out, "Password: ")
		p, err := readPassword(ctx, in)
		fmt.Fprintln(cli.Out)
		if err != nil {
			return image.Credentials{}, err
		}
		if password = p; password == "" {
			return image.Credentials{}, errors.New("error: password is required")
		}
	}
	return image.Credentials{Username: user, Password: password}, nil
}

// readLine reads one line from the terminal, a byte at a time so that nothing after it is taken.
func readLine(in *os.File) (string, error) {
	var b bytes.Buffer
	one := make([]byte, 1)
	for {
		n, err := in.Read(one)
		if n == 1 {
			if one[0] == '\n' {
				break
			}
			b.WriteByte(one[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(b.String(), "\r"), nil
}

// readPassword reads a line from the terminal with echo off. An interrupt restores the terminal
// before berth exits (130, as a shell reports SIGINT).
func readPassword(ctx context.Context, in *os.File) (string, error) {
	fd := int(in.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	type result struct {
		p   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		p, err := term.ReadPassword(fd)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return string(r.p), r.err
	case <-ctx.Done():
		term.Restore(fd, state)
		return "", &StatusError{Code: 130}
	}
}

// readSecret reads a password from r (--password-stdin), dropping one final line ending and
// nothing else, as docker/cli does.
func readSecret(r io.Reader) (string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	for _, eol := range []string{"\r\n", "\n", "\r"} {
		var ok bool
		if b, ok = bytes.CutSuffix(b, []byte(eol)); ok {
			break
		}
	}
	return string(b), nil
}

func newLogoutCommand(cli *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nDefaults to Docker Hub if no server is specified.",
		Args:  requiresMaxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			// As docker/cli: the name printed is the host, and the legacy spellings of the key
			// (with a scheme) go too.
			key := image.RegistryKey(server)
			shown, keys := key, []string{key}
			if server != "" {
				shown = image.RegistryHost(server)
				for _, k := range []string{server, shown, "http://" + shown, "https://" + shown} {
					if k != key {
						keys = append(keys, k)
					}
				}
			}
			fmt.Fprintln(cli.Out, "Removing login credentials for", shown)
			if err := image.EraseCredentials(keys...); err != nil {
				fmt.Fprintln(cli.Err, "WARNING: could not erase credentials:")
				fmt.Fprintf(cli.Err, "%s: %s\n", key, err)
			}
			return nil
		},
	}
}
