package xdm

import (
	"bytes"
	"encoding/xml"
)

// node is an element written by hand: the CDA and the metadata need a fixed element order,
// chosen prefixes (lcm:, rim:) and attributes left out when empty, which encoding/xml's
// Marshal does not give without contortions. Reading goes through encoding/xml.
type node struct {
	name  string
	attrs []attr
	kids  []*node
	text  string
	raw   []byte // written as is (already escaped or known safe), after text
}

type attr struct{ name, value string }

func el(name string, attrs ...string) *node {
	n := &node{name: name}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			n.attrs = append(n.attrs, attr{attrs[i], attrs[i+1]})
		}
	}
	return n
}

// add appends the non-nil children and returns n.
func (n *node) add(kids ...*node) *node {
	for _, k := range kids {
		if k != nil {
			n.kids = append(n.kids, k)
		}
	}
	return n
}

func (n *node) setText(s string) *node { n.text = s; return n }

// document renders n as a UTF-8 XML document, indented by two spaces.
func (n *node) document() []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	n.write(&b, 0)
	return b.Bytes()
}

func (n *node) write(b *bytes.Buffer, depth int) {
	for i := 0; i < depth; i++ {
		b.WriteString("  ")
	}
	b.WriteByte('<')
	b.WriteString(n.name)
	for _, a := range n.attrs {
		b.WriteByte(' ')
		b.WriteString(a.name)
		b.WriteString(`="`)
		xml.EscapeText(b, []byte(a.value)) // escapes " ' < > & and control whitespace
		b.WriteByte('"')
	}
	if len(n.kids) == 0 && n.text == "" && n.raw == nil {
		b.WriteString("/>\n")
		return
	}
	b.WriteByte('>')
	if len(n.kids) == 0 {
		xml.EscapeText(b, []byte(n.text))
		b.Write(n.raw)
	} else {
		b.WriteByte('\n')
		for _, k := range n.kids {
			k.write(b, depth+1)
		}
		for i := 0; i < depth; i++ {
			b.WriteString("  ")
		}
	}
	b.WriteString("</")
	b.WriteString(n.name)
	b.WriteString(">\n")
}
