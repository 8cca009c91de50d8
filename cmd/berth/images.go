package main

import (
	"sort"
	"strings"

	"github.com/berth-project/berth/image"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/ids"
	"github.com/docker/go-units"
	"github.com/spf13/cobra"
)

// imageRow is one line of `images`; its fields are what --format templates see.
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

var imagesTable = format.Table{
	Default: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
	Headers: map[string]string{
		"Containers": "CONTAINERS", "CreatedAt": "CREATED AT", "CreatedSince": "CREATED", "Digest": "DIGEST",
		"ID": "IMAGE ID", "Repository": "REPOSITORY", "SharedSize": "SHARED SIZE", "Size": "SIZE", "Tag": "TAG",
		"UniqueSize": "UNIQUE SIZE", "VirtualSize": "VIRTUAL SIZE",
	},
}

func newImageLsCommand(cli *CLI, use string) *cobra.Command {
	var opts struct {
		all, quiet, digests, noTrunc bool
		filters                      []string
		format                       string
	}
	cmd := &cobra.Command{
		Use:   use + " [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  requiresMaxArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			store, err := openImages(cli)
			if err != nil {
				return imageError(cli, err)
			}
			filters := opts.filters
			if len(args) == 1 {
				filters = append(filters, "reference="+args[0])
			}
			f, err := image.ParseFilters(filters, "dangling", "reference", "before", "since", "label")
			if err != nil {
				return imageError(cli, err)
			}
			all, err := store.List()
			if err != nil {
				return imageError(cli, err)
			}
			imgs, err := store.Select(all, f)
			if err != nil {
				return imageError(cli, err)
			}
			if !opts.all {
				imgs = hideIntermediate(all, imgs)
			}
			// Docker lists the most recently created images first.
			sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
			digestColumn := opts.digests || strings.Contains(opts.format, "{{.Digest}}")
			rows := imageRows(imgs, f, opts.noTrunc, opts.digests, digestColumn)
			if opts.quiet {
				seen := map[string]bool{}
				for _, r := range rows {
					if !seen[r.ID] {
						seen[r.ID] = true
						cli.Out.Write([]byte(r.ID + "\n"))
					}
				}
				return nil
			}
			t := imagesTable
			if opts.digests {
				t.Default = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
			}
			items := make([]any, len(rows))
			for i := range rows {
				items[i] = rows[i]
			}
			if err := t.Write(cli.Out, opts.format, items); err != nil {
				return imageError(cli, err)
			}
			return nil
		},
	}
	if use == "ls" {
		cmd.Aliases = []string{"list"}
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.all, "all", "a", false, "Show all images (default hides intermediate images)")
	fl.BoolVarP(&opts.quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&opts.digests, "digests", false, "Show digests")
	fl.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	fl.VarP((*filterFlag)(&opts.filters), "filter", "f", "Filter output based on conditions provided (dangling, reference, before, since, label)")
	fl.StringVar(&opts.format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'")
	return cmd
}

// imageRows expands images into Docker's rows (docker/cli's imageFormatTaggedAndDigest): one
// per tag (times each digest of its repository when digests are shown), one per repository
// that has only digest references, and "<none> <none>" for an image without any.
func imageRows(imgs []*image.Image, f image.Filters, noTrunc, showDigests, digestColumn bool) []imageRow {
	var rows []imageRow
	for _, img := range imgs {
		id := img.ID
		if !noTrunc {
			id = ids.Truncate(id)
		}
		base := imageRow{
			Containers:   "N/A",
			CreatedAt:    img.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
			CreatedSince: format.Ago(img.Created),
			ID:           id,
			SharedSize:   "N/A",
			Size:         format.Size(img.Size),
			UniqueSize:   "N/A",
			VirtualSize:  units.HumanSize(float64(img.Size)),
			Digest:       "<none>",
		}
		add := func(repo, tag, digest string) {
			r := base
			r.Repository, r.Tag, r.Digest = repo, tag, digest
			rows = append(rows, r)
		}
		var repos []string // in order of first appearance
		tagsOf, digestsOf := map[string][]string{}, map[string][]string{}
		for _, t := range f.MatchingTags(img) {
			i := strings.LastIndex(t, ":")
			repo := t[:i]
			if _, ok := tagsOf[repo]; !ok {
				repos = append(repos, repo)
			}
			tagsOf[repo] = append(tagsOf[repo], t[i+1:])
		}
		var digestRepos []string
		for _, d := range f.MatchingDigests(img) {
			repo, dg, ok := strings.Cut(d, "@")
			if !ok {
				continue
			}
			if _, ok := digestsOf[repo]; !ok {
				digestRepos = append(digestRepos, repo)
			}
			digestsOf[repo] = append(digestsOf[repo], dg)
		}
		if len(repos) == 0 && len(digestRepos) == 0 {
			add("<none>", "<none>", "<none>")
			continue
		}
		for _, repo := range repos {
			digests := digestsOf[repo]
			delete(digestsOf, repo)
			if !digestColumn {
				digests = nil
			}
			for _, tag := range tagsOf[repo] {
				if len(digests) == 0 {
					add(repo, tag, "<none>")
					continue
				}
				for _, d := range digests {
					add(repo, tag, d)
				}
			}
		}
		for _, repo := range digestRepos {
			digests, ok := digestsOf[repo]
			if !ok {
				continue // shown with its tags
			}
			if !showDigests {
				add(repo, "<none>", "")
				continue
			}
			for _, d := range digests {
				add(repo, "<none>", d)
			}
		}
	}
	return rows
}

// hideIntermediate drops untagged images that are the parent of another image (the
// intermediate images of a build), as Docker does without -a.
func hideIntermediate(all, imgs []*image.Image) []*image.Image {
	parents := map[string]bool{}
	for _, img := range all {
		if img.Parent != "" {
			parents[img.Parent] = true
		}
	}
	out := imgs[:0:0]
	for _, img := range imgs {
		if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 && parents[img.ID] {
			continue
		}
		out = append(out, img)
	}
	return out
}
