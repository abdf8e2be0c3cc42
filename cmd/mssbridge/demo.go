package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mssbridge/mssbridge/audit"
	"github.com/mssbridge/mssbridge/demo"
	"github.com/mssbridge/mssbridge/operator"
)

func cmdDemo(ctx context.Context, e env, args []string) error {
	fs := newFlags("demo", e)
	dir := fs.String("dir", demo.DefaultDir(), "folder for the demo's configuration, data and certificates")
	dur := fs.Duration("for", 0, "stop after this long (default: run until Ctrl-C)")
	verbose := fs.Bool("v", false, "show the bridge's log")
	if _, err := parseInterspersed(fs, args); err != nil {
		return usageError{err.Error()}
	}
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	var mu sync.Mutex
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(e.stdout, format+"\n", a...)
	}
	setup, err := demo.Prepare(ctx, *dir, func(d operator.Delivery) {
		say("  📨 l'opérateur MSSanté a reçu %s pour %s (%d octets, Message-ID %s)", "un message", strings.Join(d.To, ", "), len(d.Data), d.MessageID)
	})
	if err != nil {
		return err
	}
	defer setup.Close()

	say("mssbridge — démonstration, sans configuration ni réseau")
	say("")
	say("Un opérateur MSSanté de démonstration tourne sur cette machine (SMTP %s, IMAP %s),", setup.Operator.SMTPAddr, setup.Operator.IMAPAddr)
	say("avec son autorité de certification ; la boîte applicative %s s'y connecte en TLS mutuel.", demo.BoxAddress)
	say("")
	say("  configuration : %s", setup.ConfigPath)
	say("  dossier de dépôt (ce que le logiciel métier écrit) : %s", setup.DropDir)
	say("  documents en attente de relecture : %s", filepath.Join(setup.Config.DataDir, "held"))
	say("  documents en échec : %s", filepath.Join(setup.Config.DataDir, "failed"))
	say("")
	say("Les trois exemples de %s sont déposés maintenant :", setup.SamplesDir)
	say("  - 01 porte des balises #MSS-TO / #MSS-PATIENT (texte blanc) : il part ;")
	say("  - 02 est une lettre sans balise : elle attend une relecture humaine ;")
	say("  - 03 vise une adresse gmail.com : hors de l'espace de confiance, jamais envoyée.")
	say("Un correspondant (%s) écrit aussi à la boîte : sa lettre arrive dans %s,", demo.Correspondent, setup.ImportDir)
	say("avec un fichier .json qui la décrit (expéditeur, Message-ID, objet).")
	say("")
	if login, pw, err := setup.DeskAccount(); err == nil {
		say("Bureau de relecture : http://%s  (identifiant %s, mot de passe %s)", setup.DeskAddr, login, pw)
		say("")
	}
	say("À essayer ensuite, dans un autre terminal :")
	say("  cp %s %s", filepath.Join(setup.SamplesDir, setup.Samples[0]), setup.DropDir)
	say("  go run ./cmd/mssbridge status -c %s", setup.ConfigPath)
	say("  go run ./cmd/mssbridge held list -c %s", setup.ConfigPath)
	say("  go run ./cmd/mssbridge held release -c %s ID --to paul.mercier@medecin.mssante.fr", setup.ConfigPath)
	say("  go run ./cmd/mssbridge audit verify -c %s", setup.ConfigPath)
	say("Ctrl-C arrête la démonstration.")
	say("")

	logOut := io.Discard
	if *verbose {
		logOut = e.stderr
	}
	logger := newLogger(logOut, "info")
	onEvent := func(en audit.Entry) {
		switch en.Event {
		case "claimed":
			say("  📥 document pris en charge : tâche %s", en.Job)
		case "sent":
			say("  ✅ tâche %s envoyée (%s)", en.Job, en.Detail["reply"])
		case "held":
			say("  ✋ tâche %s mise en attente de relecture : voir %s", en.Job, filepath.Join(setup.Config.DataDir, "held", en.Job+".json"))
		case "failed":
			say("  ❌ tâche %s en échec : voir %s", en.Job, filepath.Join(setup.Config.DataDir, "failed", en.Job+".json"))
		case "delivered":
			say("  📬 avis de remise reçu pour la tâche %s", en.Job)
		case "deferred":
			say("  ⏳ tâche %s différée, nouvel essai à %s", en.Job, en.Detail["next"])
		}
	}
	go func() {
		// Give the watcher its first scan, then drop the samples as the clinical software would.
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		if err := setup.DropSamples(); err != nil {
			say("dépôt des exemples impossible : %v", err)
		}
		if err := setup.SendIncoming(ctx); err != nil {
			say("envoi du courrier entrant de démonstration impossible : %v", err)
		}
	}()
	err = runBridge(ctx, setup.Config, logger, onEvent)
	say("démonstration arrêtée ; tout est conservé dans %s", setup.Dir)
	return err
}
